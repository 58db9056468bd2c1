from splitter.cli import console_main

console_main()
