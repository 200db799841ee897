import Foundation
import RelayCore
import RelayTestSupport
import Testing

@testable import RelayEngine

/// `PipeCollector` reads a plugin's stdout and stderr on a thread of its own: each pipe's bytes in order, until end
/// of file or the caller's deadline, cut at the limit; and it closes what it read (a writer then gets EPIPE).
@Suite struct PipeCollectorTests {
    /// Writes `bytes` to `descriptor` on a thread (blocking while the pipe is full), then closes it unless told not to.
    func send(_ bytes: [UInt8], to descriptor: Int32, closing: Bool = true) {
        Thread {
            PipeDescriptors.writeAll(bytes, to: descriptor)
            if closing { close(descriptor) }
        }.start()
    }

    /// Whether a write to `descriptor` fails with EPIPE: its pipe's read end is closed everywhere (a write that
    /// succeeds leaves a byte in the pipe: harmless here).
    func readerIsGone(_ descriptor: Int32) -> Bool {
        PipeDescriptors.brokenPipesIgnored
        var byte: UInt8 = 0
        return write(descriptor, &byte, 1) == -1 && errno == EPIPE
    }

    /// What the collector gives, or a failure (not a hang) if it has not ended within a minute.
    func collect(_ collector: PipeCollector, until deadline: ContinuousClock.Instant) async throws
        -> [PipeCollector.Output]
    {
        try #require(await withTimeout(seconds: 300) { await collector.collected(waitingUntil: deadline) })
    }

    func bytes(_ count: Int, seed: UInt8) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31) ^ seed } }

    @Test func eachPipeGivesItsBytesInOrderUntilEndOfFile() async throws {
        let out = try PipeDescriptors()
        let err = try PipeDescriptors()
        let collector = try PipeCollector(descriptors: [out.readEnd, err.readEnd])
        // More than a pipe holds (64 KiB), so that the writer blocks and is read as it writes.
        let stdout = bytes(1_000_000, seed: 1)
        let stderr = bytes(70_000, seed: 2)
        send(stdout, to: out.writeEnd)
        send(stderr, to: err.writeEnd)
        // Far in the future: only end of file on both pipes ends collection here.
        let outputs = try await collect(collector, until: .now + .seconds(3600))
        #expect(outputs.count == 2)
        #expect(outputs[0].bytes == stdout)
        #expect(outputs[1].bytes == stderr)
        #expect(!outputs[0].overflowed && !outputs[1].overflowed)
    }

    @Test func aPipeHeldOpenEndsAtTheDeadlineWithWhatCameAndIsClosed() async throws {
        let out = try PipeDescriptors()
        let err = try PipeDescriptors()
        // Written before the collector starts: what a pipe holds at the deadline is still collected.
        PipeDescriptors.writeAll(Array("partial".utf8), to: out.writeEnd)
        close(err.writeEnd)
        let collector = try PipeCollector(descriptors: [out.readEnd, err.readEnd])
        let outputs = try await collect(collector, until: .now + .milliseconds(200))
        #expect(String(decoding: outputs[0].bytes, as: UTF8.self) == "partial")
        #expect(outputs[1].bytes.isEmpty)
        // The collector closed its read end when it stopped: the writer that held the pipe gets EPIPE. Waited for:
        // a process another test is starting may hold a copy of the read end until its exec closes it.
        #expect(await waitFor { readerIsGone(out.writeEnd) }, "the collector closed its read end")
        close(out.writeEnd)
    }

    /// The wake-up and data come together (both already there at the thread's first poll): the data is still read.
    @Test func whatAPipeHoldsWhenTheWakeUpComesIsStillRead() throws {
        let out = try PipeDescriptors()
        let wake = try PipeDescriptors()
        PipeDescriptors.writeAll(Array("held".utf8), to: out.writeEnd)
        PipeDescriptors.writeAll([1], to: wake.writeEnd)
        var read: [UInt8] = []
        // The pipe's writer stays open: only the wake-up ends the loop (run here, on the test's own thread).
        PipeCollector.Reader(descriptors: [out.readEnd], wake: wake.readEnd, limit: 100).run { _, bytes, _ in
            read += bytes
        }
        #expect(String(decoding: read, as: UTF8.self) == "held")
        close(out.writeEnd)
        close(wake.writeEnd)
    }

    @Test func pastTheLimitTheRestIsReadAndDropped() async throws {
        let out = try PipeDescriptors()
        let collector = try PipeCollector(descriptors: [out.readEnd], limit: 100_000)
        let written = bytes(300_000, seed: 3)
        send(written, to: out.writeEnd)
        let outputs = try await collect(collector, until: .now + .seconds(3600))
        #expect(outputs[0].bytes == Array(written.prefix(100_000)))
        #expect(outputs[0].overflowed)
    }

    @Test func aCollectorDroppedUnreadStopsAndClosesItsPipes() async throws {
        let out = try PipeDescriptors()
        do { _ = try PipeCollector(descriptors: [out.readEnd]) }
        // The thread stops on its wake-up and closes the read end: the writer gets EPIPE once it has (and once no
        // process another test is starting holds a copy).
        #expect(await waitFor { readerIsGone(out.writeEnd) }, "the dropped collector closed its read end")
        close(out.writeEnd)
    }

    /// Many collectors set up and torn down at once on several threads (what crashed libdispatch's read sources):
    /// each gets exactly its own bytes.
    @Test func manyCollectorsAtOnceEachGetTheirOwnBytes() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for round in 0..<25 {
                        let out = try PipeDescriptors()
                        let err = try PipeDescriptors()
                        let collector = try PipeCollector(descriptors: [out.readEnd, err.readEnd])
                        let stdout = bytes(1_000 + 97 * round, seed: UInt8(task))
                        let stderr = bytes(500 + task, seed: UInt8(round))
                        send(stdout, to: out.writeEnd)
                        send(stderr, to: err.writeEnd)
                        let outputs = try await collect(collector, until: .now + .seconds(3600))
                        #expect(outputs[0].bytes == stdout, "task \(task), round \(round): stdout")
                        #expect(outputs[1].bytes == stderr, "task \(task), round \(round): stderr")
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}
