extension DeploymentQuota.Kind {
    public var isProvisioned: Bool {
        if case .provisioned = self { return true }
        return false
    }
}
