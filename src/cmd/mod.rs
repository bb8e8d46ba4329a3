//! One file per subcommand, each opening with what it does; they parse flags, call the library, print.

pub mod apply;
pub mod cloud;
pub mod convert;
pub mod demo;
pub mod graph_args;
pub mod output;
pub mod plan;
pub mod revert;
pub mod script;
pub mod sim;
pub mod template;
