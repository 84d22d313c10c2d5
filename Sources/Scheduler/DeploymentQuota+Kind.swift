extension DeploymentQuota.Kind {
    /// Whether it is a provisioned (PTU) deployment.
    public var isProvisioned: Bool {
        if case .provisioned = self { return true }
        return false
    }
}
