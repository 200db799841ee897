import Foundation

/// What the kernel says about processes, for tests that check that nothing a plugin started is left running.
/// A zombie (exited, not yet reaped by its parent) counts as gone: it runs nothing and holds nothing open.
public enum ProcessTable {
    /// Whether `pid` names a live process: `kill(pid, 0)` succeeds and /proc does not show it as a zombie.
    public static func isAlive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        return state(of: pid).map { $0 != "Z" && $0 != "X" } ?? false
    }

    /// The live processes of process group `group` (from /proc: each process's state and group id).
    public static func members(ofGroup group: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { pid_t($0) }.filter { pid in
            guard let fields = statFields(of: pid), fields.count > 4 else { return false }
            return fields[2] != "Z" && fields[2] != "X" && pid_t(fields[4]) == group
        }
    }

    /// The pid written to `path` by a test plugin (`echo $! > path`), once the file holds one.
    public static func pid(inFile path: String) -> pid_t? {
        let text = try? String(contentsOfFile: path, encoding: .utf8)
        return text.flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    private static func state(of pid: pid_t) -> String? {
        statFields(of: pid).map { $0[2] }
    }

    /// /proc/PID/stat split into fields, the command name (which may hold spaces) as one field.
    private static func statFields(of pid: pid_t) -> [String]? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")")
        else { return nil }
        let rest = text[text.index(after: close)...].split(separator: " ").map(String.init)
        return [String(text[..<open]).trimmingCharacters(in: .whitespaces), String(text[open...close])] + rest
    }
}
