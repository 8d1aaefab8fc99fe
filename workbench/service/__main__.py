from workbench.service.app import main

main()
