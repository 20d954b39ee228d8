// Package ifc reads IFC design files: ISO 10303-21 ("STEP physical file")
// text in the IFC2X3, IFC4 and IFC4X3 schemas. It finds every entity
// instance, the elements among them (instances of IfcProduct subtypes,
// keyed by GlobalId) and, for each element, a content checksum that covers
// everything the element references but not the #ids, so that a re-export
// that only renumbers instances changes no checksum.
//
// Read, what a sync and `plinth ifc stats` use, reads a file in one pass
// through a window of 1 MiB on two goroutines — one checks the syntax and
// makes each instance's canonical form, the other hashes it as soon as
// what it refers to is hashed — so its memory is an index of about 16
// bytes an instance and the elements, not the file. Load, Parse and
// File.Elements hold the file in memory and index instances by byte span;
// they are the reference Read is tested against. Bad input is reported
// with the file, line and column; a reference to a missing instance is a
// warning on the element that holds it, not a failure of the file.
//
// Hostile input is bounded: a file larger than MaxFileSize is refused
// before it is read, Load checks the start and the header on the first
// bytes before it reads the rest, lists nest at most MaxNesting deep and
// chains of references are followed at most MaxReferenceDepth long, each
// refusal one sentence with the line and column.
package ifc
