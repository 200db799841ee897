/// Reading series back from Prometheus' text format: for tests and benchmarks, which check what `/metrics` says.
extension PipelineMetrics {
    /// One sample line of the text format: `name{label="value",…} 12`.
    public struct Sample: Sendable, Equatable {
        public var name: String
        public var labels: [String: String]
        public var value: Double
    }

    /// The sum of the samples named `name` whose labels include `labels` (0 when there is none), as recorded now;
    /// gauges read by collectors hold their value of the last scrape.
    public func value(of name: String, labels: [String: String] = [:]) -> Double {
        Self.value(of: name, labels: labels, in: registry.emitToString())
    }

    /// The sum of the samples named `name` in `text` whose labels include `labels` (0 when there is none).
    public static func value(of name: String, labels: [String: String] = [:], in text: String) -> Double {
        samples(in: text).filter { sample in
            sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value }
        }.reduce(0) { $0 + $1.value }
    }

    /// Every sample of `text` (comments and lines that are not samples are passed over).
    public static func samples(in text: String) -> [Sample] {
        text.split(separator: "\n").compactMap { sample(String($0)) }
    }

    private static func sample(_ line: String) -> Sample? {
        guard !line.hasPrefix("#") else { return nil }
        var characters = Substring(line)
        let name = characters.prefix { $0 != "{" && $0 != " " }
        characters = characters.dropFirst(name.count)
        var labels: [String: String] = [:]
        if characters.first == "{" {
            characters = characters.dropFirst()
            while let first = characters.first, first != "}" {
                if first == "," {
                    characters = characters.dropFirst()
                    continue
                }
                let key = characters.prefix { $0 != "=" }
                characters = characters.dropFirst(key.count)
                guard characters.hasPrefix("=\"") else { return nil }
                characters = characters.dropFirst(2)
                var value = ""
                var escaping = false
                while let character = characters.popFirst() {
                    if escaping {
                        value.append(character == "n" ? "\n" : character)
                        escaping = false
                    } else if character == "\\" {
                        escaping = true
                    } else if character == "\"" {
                        break
                    } else {
                        value.append(character)
                    }
                }
                labels[String(key)] = value
            }
            characters = characters.dropFirst()
        }
        guard !name.isEmpty, let value = Double(characters.trimmingPrefix(" ").prefix { $0 != " " }) else {
            return nil
        }
        return Sample(name: String(name), labels: labels, value: value)
    }
}
