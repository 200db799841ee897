import RelaySpec
