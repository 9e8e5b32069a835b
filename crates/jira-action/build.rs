//! `sqlx::migrate!` embeds the files of `migrations/` when the crate
//! compiles, and Cargo does not watch a directory a macro reads: without
//! this, a new migration would not reach PostgreSQL until something else
//! changed.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
