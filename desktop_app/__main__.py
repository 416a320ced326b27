from desktop_app.cli import entry

entry()
