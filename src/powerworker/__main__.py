from powerworker.cli import main

main()
