import RelayCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Traps when an invariant does not hold, after printing what broke; libFuzzer then saves the input as a crash.
func fuzzCheck(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID,
    line: UInt = #line
) {
    if condition() { return }
    printError("relay-fuzz: invariant violated at \(file):\(line): \(message())")
    abort()
}

/// Writes a line to standard error, unbuffered.
func printError(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
}

/// A short, printable excerpt of a value for invariant messages.
func excerpt(_ value: JSONValue, limit: Int = 400) -> String {
    let text = JSONWriter.python.string(value)
    return text.count > limit ? String(text.prefix(limit)) + "…" : text
}

enum FuzzJSON {
    /// Stricter than `==`: the same cases, numbers bit for bit (NaN equals NaN, 0.0 differs from -0.0), and, when
    /// `keyOrder` is set, object keys in the same order. What a parse → write → parse round trip must preserve.
    static func identical(_ a: JSONValue, _ b: JSONValue, keyOrder: Bool) -> Bool {
        switch (a, b) {
        case (.double(let x), .double(let y)): return x.bitPattern == y.bitPattern || (x.isNaN && y.isNaN)
        case (.array(let x), .array(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { identical($0, $1, keyOrder: keyOrder) }
        case (.object(let x), .object(let y)):
            guard x.count == y.count else { return false }
            if keyOrder, !x.keys.elementsEqual(y.keys) { return false }
            return x.allSatisfy { key, value in y[key].map { identical(value, $0, keyOrder: keyOrder) } ?? false }
        default:
            // Every other case (and any case added later) by JSONValue's own equality.
            return a == b
        }
    }

    /// Whether a value holds a NaN or an infinity anywhere (strict JSON cannot write them).
    static func containsNonFinite(_ value: JSONValue) -> Bool {
        switch value {
        case .double(let d): return !d.isFinite
        case .array(let items): return items.contains(where: containsNonFinite)
        case .object(let object): return object.values.contains(where: containsNonFinite)
        default: return false
        }
    }

    /// The deepest nesting of arrays and objects (a scalar is 0).
    static func depth(_ value: JSONValue) -> Int {
        switch value {
        case .array(let items): return 1 + (items.map(depth).max() ?? 0)
        case .object(let object): return 1 + (object.values.map(depth).max() ?? 0)
        default: return 0
        }
    }
}
