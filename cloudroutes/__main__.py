from cloudroutes.cli import main

main()
