from hjemtilos.cli import main

main()
