//! One file per subcommand, each opening with what it does; they parse flags, call the library, print.

pub mod cloud;
pub mod convert;
pub mod graph_args;
pub mod output;
pub mod plan;
pub mod script;
pub mod sim;
pub mod template;
