import RelayCLI
