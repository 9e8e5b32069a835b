fn main() -> anyhow::Result<()> {
    jira_action::cli::main()
}
