//! Placeholder: hand-over of listening sockets between processes (filled in below).
