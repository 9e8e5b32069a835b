/// Requests allocate many small JSON and ADF nodes; glibc's malloc spent
/// about a sixth of the server's CPU on them (perf), mimalloc far less.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    jira_action::cli::main()
}
