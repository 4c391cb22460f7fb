from confaudit.cli import entry

entry()
