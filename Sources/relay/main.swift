import RelayCLI

await RelayCommand.main()
