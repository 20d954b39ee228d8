package views

// Test files may build real fixtures from lower layers.
import "codeberg.org/plinth/plinth/storage"
