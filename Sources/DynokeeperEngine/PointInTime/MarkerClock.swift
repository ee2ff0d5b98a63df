import NIOCore
import RedisClient
import Synchronization

/// Sends the point-in-time archiver's markers and notes when Redis answered each, both on the marker connection's
/// event loop: neither waits for the archiver's tasks to get a thread, so a process busy elsewhere, or an archiver
/// busy with a burst, still bounds the stream's times closely.
final class MarkerClock: Sendable {
    /// One marker: when it was sent and, once Redis answered, when that was and the key counts right after it.
    struct Marker: Sendable {
        var sent: Int64
        var answered: Int64?
        var keyspace: [String: RestoreJournal.KeyCount]?
    }

    private struct State {
        var session: UInt32 = 0
        /// Markers go out only while a stream is followed and no base is being stored.
        var active = false
        var number = 0
        /// One marker at a time: a Redis slow to answer does not pile them up.
        var waiting = false
        var markers: [Int: Marker] = [:]
    }

    private let state = Mutex(State())

    /// A new session: its markers say `<session>:<n>`, from 1; the earlier session's are forgotten.
    func start(session: UInt32) {
        state.withLock { $0 = State(session: session) }
    }

    func setActive(_ active: Bool) {
        state.withLock { $0.active = active }
    }

    /// Marker `number` reached the stream: what is known of it (`nil` for one this clock did not send). An answered
    /// marker is forgotten; an unanswered one waits for ``answer(_:)``.
    func arrived(_ number: Int) -> Marker? {
        state.withLock { state in
            guard let marker = state.markers[number] else { return nil }
            if marker.answered != nil { state.markers[number] = nil }
            return marker
        }
    }

    /// The answer to a marker that reached the stream first, once it came (and forgets the marker).
    func answer(_ number: Int) -> Marker? {
        state.withLock { state in
            guard let marker = state.markers[number], marker.answered != nil else { return nil }
            state.markers[number] = nil
            return marker
        }
    }

    /// Sends a marker every `interval` on `connection` (`PUBLISH channel <session>:<n>` and `INFO keyspace` in one
    /// write, so that the counts are those at the marker's place in the stream) until a marker fails or the task is
    /// cancelled; returns the failure.
    func run(on connection: RedisConnection, channel: String, every interval: TimeAmount) async -> any Error {
        let ended = connection.eventLoop.makePromise(of: Void.self)
        let sender = connection.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            let next: (session: UInt32, number: Int)? = self.state.withLock { state in
                guard state.active, !state.waiting else { return nil }
                state.waiting = true
                state.number += 1
                state.markers[state.number] = Marker(sent: StreamArchiver.nowMs())
                if state.markers.count > 1000 { state.markers = [state.number: state.markers[state.number]!] }
                return (state.session, state.number)
            }
            guard let next else { return }
            connection.sendPipelined(
                [["PUBLISH", channel, "\(next.session):\(next.number)"], ["INFO", "keyspace"]], timeout: .seconds(10)
            ) { result in
                let answered = StreamArchiver.nowMs()
                switch result {
                case .success(let answers):
                    let keyspace = RedisInfo(parsing: answers[1].string ?? "").keyspace
                    self.state.withLock { state in
                        state.waiting = false
                        guard state.session == next.session else { return }
                        state.markers[next.number]?.answered = answered
                        state.markers[next.number]?.keyspace = Dictionary(
                            uniqueKeysWithValues: keyspace.map {
                                ("db\($0.key)", .init(keys: $0.value.keys, expires: $0.value.expires))
                            })
                    }
                case .failure(let error):
                    self.state.withLock { $0.waiting = false }
                    ended.fail(error)
                }
            }
        }
        defer { sender.cancel() }
        do {
            try await withTaskCancellationHandler {
                try await ended.futureResult.get()
            } onCancel: {
                ended.fail(CancellationError())
            }
        } catch {
            return error
        }
        return CancellationError()
    }
}
