from factlab.cli import main

main(prog_name="factlab")
