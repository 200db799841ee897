import Foundation
import RelayCore

/// Which runs a list shows (`GET /api/v1/runs`), newest first, a page at a time.
public struct RunQuery: Sendable, Equatable {
    public var workflow: String?
    public var status: RunStatus?
    /// Runs started at or after this time (seconds since 1970).
    public var since: Double?
    /// Runs started at or before this time.
    public var until: Double?
    /// The runs started by steps of this run (its sub-workflows' runs).
    public var parent: String?
    /// Only runs no step started (no sub-workflow's runs).
    public var topLevelOnly = false
    /// At most this many runs (1 to `RunQuery.largestPage`).
    public var limit = 50
    /// Where the previous page ended (`RunPage.nextCursor`): the page starts after it.
    public var cursor: RunCursor?

    public static let largestPage = 500

    public init(
        workflow: String? = nil, status: RunStatus? = nil, since: Double? = nil, until: Double? = nil,
        parent: String? = nil, limit: Int = 50, cursor: RunCursor? = nil
    ) {
        self.workflow = workflow
        self.status = status
        self.since = since
        self.until = until
        self.parent = parent
        self.limit = limit
        self.cursor = cursor
    }
}

/// A position in the newest-first order of runs: the start time and id of the last run of a page. Pages that follow
/// a cursor are stable under inserts: a run started since is newer than every cursor and never shifts a page.
public struct RunCursor: Sendable, Equatable {
    public var startedAt: Double
    public var runID: String

    public init(startedAt: Double, runID: String) {
        self.startedAt = startedAt
        self.runID = runID
    }

    /// Opaque text for clients: the time's bit pattern in hex, a dot, the run id, in base64url.
    public var text: String {
        let plain = String(startedAt.bitPattern, radix: 16) + "." + runID
        return Data(plain.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// Reads `text` back; nil when it is not a cursor this store gave.
    public init?(text: String) {
        guard text.utf8.count <= 1024 else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.utf8.count % 4) % 4)
        guard let data = Data(base64Encoded: base64), let plain = String(data: data, encoding: .utf8),
            let dot = plain.firstIndex(of: "."), let bits = UInt64(plain[..<dot], radix: 16)
        else { return nil }
        let id = String(plain[plain.index(after: dot)...])
        let time = Double(bitPattern: bits)
        guard time.isFinite, !id.isEmpty else { return nil }
        self.init(startedAt: time, runID: id)
    }
}

/// One page of runs.
public struct RunPage: Sendable, Equatable {
    public var runs: [RunSummary]
    /// Where the next page starts; nil on the last page.
    public var nextCursor: RunCursor?

    public init(runs: [RunSummary], nextCursor: RunCursor?) {
        self.runs = runs
        self.nextCursor = nextCursor
    }
}

/// A change of a run or of one of its steps, as the run store logs it (every change the dispatcher commits, in
/// commit order): what `GET /api/v1/stream` sends.
public struct RunChange: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// The run started, ended, or was resumed.
        case run
        /// A step attempt was added or changed status.
        case step
        /// An item of a `for_each` step changed status.
        case item
    }

    /// Increases with every change; never reused.
    public var sequence: Int64
    public var kind: Kind
    public var runID: String
    public var workflow: String
    public var stepID: String?
    public var attempt: Int?
    public var itemIndex: Int?
    /// The run's status (`run`), or the step's or item's.
    public var status: String
    /// Seconds since 1970.
    public var at: Double

    public init(
        sequence: Int64, kind: Kind, runID: String, workflow: String, stepID: String? = nil, attempt: Int? = nil,
        itemIndex: Int? = nil, status: String, at: Double
    ) {
        self.sequence = sequence
        self.kind = kind
        self.runID = runID
        self.workflow = workflow
        self.stepID = stepID
        self.attempt = attempt
        self.itemIndex = itemIndex
        self.status = status
        self.at = at
    }

    /// `{kind, run_id, workflow, status, at, step_id?, attempt?, item_index?}`.
    public var json: JSONValue {
        var object: JSONObject = [
            "kind": .string(kind.rawValue), "run_id": .string(runID), "workflow": .string(workflow),
            "status": .string(status), "at": .string(RunTime.text(at)),
        ]
        if let stepID { object["step_id"] = .string(stepID) }
        if let attempt { object["attempt"] = .int(attempt) }
        if let itemIndex { object["item_index"] = .int(itemIndex) }
        return .object(object)
    }
}

/// A workflow version runs started with, as lists show it.
public struct WorkflowVersionSummary: Sendable, Equatable {
    public var hash: String
    public var file: String
    /// When the first run of this version started.
    public var firstSeen: Double

    public init(hash: String, file: String, firstSeen: Double) {
        self.hash = hash
        self.file = file
        self.firstSeen = firstSeen
    }

    public var json: JSONValue {
        ["hash": .string(hash), "file": .string(file), "first_seen": .string(RunTime.text(firstSeen))]
    }
}
