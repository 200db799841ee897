import Testing

@testable import RelayCLI

/// `--reload-interval` (env RELAY_RELOAD_INTERVAL) of `relay up`, `relay dispatcher` and `relay triggers`.
@Suite struct ReloadIntervalTests {
    @Test(arguments: [
        ("1s", Duration.seconds(1)), ("500ms", .milliseconds(500)), ("2m", .seconds(120)), ("1h", .seconds(3600)),
        ("0", .zero), ("0s", .zero), ("1.5", .milliseconds(1500)), (" 250ms ", .milliseconds(250)),
    ])
    func aDurationIsRead(text: String, expected: Duration) throws {
        #expect(try ReloadInterval.duration(text) == expected)
    }

    @Test(arguments: ["", "fast", "1x", "-1s", "nan", "inf", "1e300s", "0.0001s", "31d", "31000h"])
    func anythingElseIsAnErrorNamingTheFlag(text: String) {
        #expect {
            try ReloadInterval.duration(text)
        } throws: { error in
            "\(error)".hasPrefix("--reload-interval: expected 0 (off) or a duration from 1ms to 30 days")
        }
    }
}
