import Call
import Pipeline
import Scheduler
import Simulator

extension RunConfiguration {
    /// A configuration whose deployments are a simulator's: each pair is a simulated deployment and
    /// the scheduler's view of it (quota, priority, weight), reached at `endpoint` with the simulator's key.
    package init(
        outputPath: String, simulated pairs: [(SimulatorConfiguration.Deployment, DeploymentQuota)], endpoint: String,
        speedUp: Double, timeoutSeconds: Double, retry: RetryPolicy = RetryPolicy(), progressInterval: Double = 1
    ) {
        var deployments: [String: Deployment] = [:]
        for (simulated, quota) in pairs {
            deployments[quota.name] = Deployment(
                name: quota.name, endpoint: endpoint, api: .azure(apiVersion: "2024-10-21"), deployment: simulated.name,
                authentication: .apiKey("sim-key"), timeoutSeconds: timeoutSeconds, maxConcurrency: quota.maxConcurrency
            )
        }
        self.init(outputPath: outputPath, deployments: deployments, retry: retry, progressInterval: progressInterval)
        quotas = Dictionary(uniqueKeysWithValues: pairs.map { ($0.1.name, $0.1) })
        clock = ScaledClock(speedUp: speedUp)
    }
}
