import Foundation

enum ISO8601Now {
    static func string() -> String {
        ISO8601DateFormatter.string(from: Date(), timeZone: .gmt, formatOptions: [.withInternetDateTime])
    }
}
