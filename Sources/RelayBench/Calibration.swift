import Foundation
import RelayTransport

/// A fixed CPU-bound loop, timed, printed with every bench (`calibration_ms=…`): figures taken on different days
/// (or while something else used the machine) can be read side by side by their calibration. The loop is integer
/// arithmetic only (no memory traffic, no allocation), so it measures what the CPU gives this process.
public enum Calibration {
    /// The loop's iterations: about 0.1–0.3 s on the project's machine.
    static let iterations = 200_000_000

    /// Milliseconds the loop took, the best of `rounds`.
    public static func milliseconds(rounds: Int = 3) -> Double {
        var best = Double.infinity
        for _ in 0..<rounds {
            let clock = ContinuousClock()
            let start = clock.now
            var x: UInt64 = 0x9E37_79B9_7F4A_7C15
            for i in 0..<UInt64(iterations) {
                // xorshift, mixed with the counter: no closed form the optimiser could fold.
                x ^= x << 13
                x ^= x >> 7
                x ^= x << 17
                x &+= i
            }
            let elapsed = clock.now - start
            // Used, so the loop is not removed.
            if x == 42 { print("") }
            best = min(best, BenchFigures.milliseconds(elapsed))
        }
        return best
    }

    /// The line printed before a bench's figures.
    public static func line() -> String {
        #if DEBUG
            // Unoptimised, the loop takes minutes and says nothing about a release build's figures.
            let calibration = "calibration_ms=none (a debug build: figures not comparable)"
        #else
            let calibration = String(format: "calibration_ms=%.1f (a fixed CPU-bound loop)", milliseconds())
        #endif
        return calibration + " allocator=\(ProcessAllocator.description)"
    }
}

/// The most memory this process has held in RAM so far (`ru_maxrss`), in MiB.
enum ProcessMemory {
    static var peakMiB: Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        // Linux reports kilobytes.
        return Double(usage.ru_maxrss) / 1024
    }
}

/// CPU time this process has used (user and system), in seconds: on a machine shared with other work, the CPU a
/// bench spends per step is steadier than its wall-clock figures.
enum ProcessCPU {
    static func seconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}

extension SQLiteCounts {
    /// `sqlite_per_step: transactions=… reads=… statements=… queued=… checkpoints=N+M held_us=… held_cpu_us=…
    /// commit_us=…` (the bench's own polling of the run store included; queued: transactions and reads that waited on
    /// the database queue instead of running on the caller's thread; checkpoints in all, on the checkpoint thread + by
    /// the writer; held: wall-clock µs per step the connection was held, held_cpu: the CPU time of the thread holding
    /// it then, commit: the wall-clock µs of that in COMMIT).
    func perStep(_ steps: Double) -> String {
        String(
            format: "sqlite_per_step: transactions=%.2f reads=%.2f statements=%.1f queued=%.2f checkpoints=%d+%d"
                + " held_us=%.1f held_cpu_us=%.1f commit_us=%.1f wal_writes=%.2f of %.2f",
            Double(transactions) / steps, Double(reads) / steps, Double(statements) / steps, Double(queued) / steps,
            checkpoints, writerCheckpoints, Double(heldNanoseconds) / 1000 / steps,
            Double(heldCPUNanoseconds) / 1000 / steps, Double(commitNanoseconds) / 1000 / steps,
            Double(walWrites) / steps, Double(walWritesGiven) / steps)
    }
}
