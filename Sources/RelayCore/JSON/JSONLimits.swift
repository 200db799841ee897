/// The limits on JSON that Relay reads from outside (HTTP bodies, plugin replies, messages on the bus, files).
/// Within them every recursive walk over a value (writing, comparing, templates, validation, masking) stays far
/// from the end of a thread's stack; beyond them the reader gives an error instead of crashing the process.
public enum JSONLimits {
    /// Arrays and objects nested deeper than this are refused by `JSONParser` (Foundation's JSONSerialization
    /// has the same limit).
    public static let maximumDepth = 512
    /// The deepest a payload (a trigger event's output, a step's input or output) may nest, so that the message
    /// that carries it (a few levels of envelope around it) stays within `maximumDepth` for its reader.
    public static let maximumPayloadDepth = 500
    /// Digits of one integer: CPython's default `int_max_str_digits`, which its `json.loads` applies too.
    public static let maximumIntegerDigits = 4300
}

extension JSONValue {
    /// Whether arrays and objects nest more than `limit` levels deep (a scalar is 0 deep, `[1]` 1, `[[1]]` 2).
    /// Iterative, so it is safe on a value of any depth.
    public func nests(deeperThan limit: Int) -> Bool {
        scan(depthLimit: limit).tooDeep
    }

    /// Why this value cannot travel as a payload (nesting deeper than `maximumPayloadDepth`, or a number JSON
    /// cannot carry: NaN or an infinity), naming where (`output.f[2]`); `nil` when it can. One pass, no recursion
    /// (a second one finds the path, only when there is a non-finite number to name).
    public func payloadProblem(at root: String) -> String? {
        let found = scan(depthLimit: JSONLimits.maximumPayloadDepth)
        if found.tooDeep {
            return "\(root) nests deeper than \(JSONLimits.maximumPayloadDepth) levels of arrays and objects"
        }
        guard found.nonFinite, let (path, number) = firstNonFiniteNumber(at: root) else { return nil }
        return "\(path) is \(JSONWriter.pythonRepr(number)), a number JSON cannot carry"
    }

    /// One walk without recursion: whether containers nest deeper than `depthLimit` (it stops there), and whether
    /// a NaN or an infinity was seen on the way.
    private func scan(depthLimit: Int) -> (tooDeep: Bool, nonFinite: Bool) {
        var stack: [(JSONValue, Int)] = [(self, 0)]
        var nonFinite = false
        while let (value, depth) = stack.popLast() {
            switch value {
            case .double(let d) where !d.isFinite: nonFinite = true
            case .array(let items):
                guard depth < depthLimit else { return (true, nonFinite) }
                for item in items { stack.append((item, depth + 1)) }
            case .object(let object):
                guard depth < depthLimit else { return (true, nonFinite) }
                for item in object.values { stack.append((item, depth + 1)) }
            default: continue
            }
        }
        return (false, nonFinite)
    }

    /// The first NaN or infinity in the value, with its path; `nil` when there is none.
    func firstNonFiniteNumber(at root: String) -> (path: String, value: Double)? {
        var stack: [(JSONValue, String)] = [(self, root)]
        while let (value, path) = stack.popLast() {
            switch value {
            case .double(let d) where !d.isFinite: return (path, d)
            case .array(let items):
                for (offset, item) in items.enumerated().reversed() { stack.append((item, "\(path)[\(offset)]")) }
            case .object(let object):
                for (key, item) in object.reversed() { stack.append((item, "\(path).\(key)")) }
            default: continue
            }
        }
        return nil
    }
}
