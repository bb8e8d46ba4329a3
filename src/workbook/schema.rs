//! The Plan sheet's columns, defined once for the writer and the reader.
