import Dispatch

/// Runs blocking or CPU-heavy work on a dispatch thread, so that it does not hold one of the few threads of
/// Swift's cooperative pool (two on a two-core machine) while timing-dependent tests run beside it.
public enum OffPool {
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
        }
    }
}

/// Polls `condition` until it holds or `seconds` pass; returns whether it held. The limit is generous on
/// purpose: it bounds a hung test, it does not measure speed (a passing wait returns as soon as it holds).
public func waitFor(seconds: Double = 300, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

/// The body's value, or nil when it takes longer than `seconds` (the body is cancelled).
public func withTimeout<T: Sendable>(seconds: Double, _ body: @escaping @Sendable () async throws -> T?) async throws
    -> T?
{
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        defer { group.cancelAll() }
        return try await group.next() ?? nil
    }
}

/// Whether `needle` occurs in `haystack` (tests that search files and messages for a secret).
public func containsBytes(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard !needle.isEmpty, needle.count <= haystack.count else { return false }
    return (0...(haystack.count - needle.count)).contains { index in
        haystack[index] == needle[0] && haystack[index..<(index + needle.count)].elementsEqual(needle)
    }
}

/// What a background reader collected so far (messages from a consumer, events from a trigger): the test waits
/// on a condition over them with `waitFor` while the reader keeps appending.
public actor Collected<Element: Sendable> {
    public private(set) var items: [Element] = []

    public init() {}

    public func append(_ item: Element) { items.append(item) }
}
