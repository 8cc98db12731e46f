//! The console's files in `static/` are embedded in the binary (`include_dir!`); a file added to or
//! removed from the folder must rebuild the crate, which the macro alone does not notice.
fn main() {
    println!("cargo:rerun-if-changed=static");
}
