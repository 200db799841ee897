import RelayCLI

await RelayCommand.start()
