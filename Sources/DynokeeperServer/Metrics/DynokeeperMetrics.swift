import CoreMetrics
package import DynokeeperEngine
package import Foundation
import Metrics
package import Prometheus

/// dynokeeper's metrics, in their own Prometheus registry (so that several daemons can live in one process,
/// as in tests), exported as Prometheus text on `/metrics`.
package final class DynokeeperMetrics: NodeEvents {
    package let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory
    let uploaded: CoreMetrics.Counter
    let downloaded: CoreMetrics.Counter
    let lastBackup: CoreMetrics.Gauge
    let lastBackupSize: CoreMetrics.Gauge
    let redisUp: CoreMetrics.Gauge
    let unfinished: CoreMetrics.Gauge
    let lastVerified: CoreMetrics.Gauge
    let verificationFailures: CoreMetrics.Counter

    package init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .seconds(1), .seconds(5), .seconds(15), .seconds(30), .seconds(60), .seconds(120), .seconds(300),
            .seconds(600), .seconds(1800), .seconds(3600),
        ]
        self.factory = factory
        uploaded = CoreMetrics.Counter(label: "dynokeeper_uploaded_bytes_total", factory: factory)
        downloaded = CoreMetrics.Counter(label: "dynokeeper_downloaded_bytes_total", factory: factory)
        lastBackup = CoreMetrics.Gauge(label: "dynokeeper_last_successful_backup_timestamp_seconds", factory: factory)
        lastBackupSize = CoreMetrics.Gauge(label: "dynokeeper_last_backup_stored_bytes", factory: factory)
        redisUp = CoreMetrics.Gauge(label: "dynokeeper_redis_up", factory: factory)
        unfinished = CoreMetrics.Gauge(label: "dynokeeper_unfinished_restore", factory: factory)
        unfinished.record(0)
        lastVerified = CoreMetrics.Gauge(
            label: "dynokeeper_last_verified_snapshot_timestamp_seconds", factory: factory)
        verificationFailures = CoreMetrics.Counter(label: "dynokeeper_verification_failures_total", factory: factory)
        for kind in ["backup", "restore", "snapshot", "verification"] { running(kind).record(0) }
    }

    private func dimensions(_ job: Job) -> [(String, String)] {
        [("kind", job.kind.rawValue), ("type", job.parameters.type?.rawValue ?? "none")]
    }

    private func running(_ kind: String) -> CoreMetrics.Gauge {
        CoreMetrics.Gauge(label: "dynokeeper_job_running", dimensions: [("kind", kind)], factory: factory)
    }

    package func jobStarted(_ job: Job) {
        CoreMetrics.Counter(label: "dynokeeper_jobs_started_total", dimensions: dimensions(job), factory: factory)
            .increment()
        running(job.kind.rawValue).record(1)
    }

    package func jobFinished(_ job: Job) {
        let outcome = job.state == .succeeded ? "succeeded" : "failed"
        CoreMetrics.Counter(label: "dynokeeper_jobs_\(outcome)_total", dimensions: dimensions(job), factory: factory)
            .increment()
        running(job.kind.rawValue).record(0)
        if let seconds = job.seconds {
            Metrics.Timer(label: "dynokeeper_job_duration_seconds", dimensions: dimensions(job), factory: factory)
                .recordSeconds(seconds)
        }
    }

    /// A backup stored `bytes`.
    package func backupSucceeded(storedBytes: Int64, at date: Date) {
        uploaded.increment(by: Int(storedBytes))
        lastBackup.record(date.timeIntervalSince1970)
        lastBackupSize.record(Double(storedBytes))
    }

    /// The newest snapshot that verified (its id's time: an alert fires when it gets old), and each failure.
    package func verified(_ reports: [SnapshotVerifier.Report]) {
        if let newest = reports.filter(\.ok).compactMap({ SnapshotID($0.snapshot) }).filter({ !$0.isFuture() })
            .map(\.date).max()
        {
            lastVerified.record(newest.timeIntervalSince1970)
        }
        let failures = reports.filter { !$0.ok }.count
        if failures > 0 { verificationFailures.increment(by: failures) }
    }

    package func restoreDownloaded(bytes: Int64) {
        downloaded.increment(by: Int(bytes))
    }

    /// Redis's state, and Dynomite's on nodes that run it (the gauge appears only there).
    func processes(redisUp: Bool, dynomiteUp: Bool?) {
        self.redisUp.record(redisUp ? 1 : 0)
        if let dynomiteUp {
            CoreMetrics.Gauge(label: "dynokeeper_dynomite_up", factory: factory).record(dynomiteUp ? 1 : 0)
        }
    }

    /// How far behind now the stored point-in-time archive reaches (only with `pitr.enabled`).
    func pointInTimeLag(seconds: Double?) {
        guard let seconds else { return }
        CoreMetrics.Gauge(label: "dynokeeper_pitr_lag_seconds", factory: factory).record(seconds)
    }

    /// 1 while a restore that did not finish waits to be resumed or rolled back.
    func unfinishedRestore(_ present: Bool) {
        unfinished.record(present ? 1 : 0)
    }

    /// The newest snapshot found at start-up, so that staleness alerts work before the first backup.
    func knownBackup(storedBytes: Int64, at date: Date) {
        lastBackup.record(date.timeIntervalSince1970)
        lastBackupSize.record(Double(storedBytes))
    }

    /// The Prometheus text exposition of every metric.
    package func render() -> String {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
