import FuzzSupport
import PodInject

// JSON Pointer and JSON Patch. The input is tried as pointer text (it must print back as itself), then
// as JSON: `{"doc": DOCUMENT, "patch": [...]}` (the shape of the json-patch test suites), or a bare
// patch for the sample pod. A patch must read back from both of its serializations; applied one
// operation at a time, each operation must do what RFC 6902 says or change nothing; applied as a
// whole it must give the same document, or leave it untouched.
runFuzzer { bytes in
  let text = String(decoding: bytes, as: UTF8.self)
  if let pointer = try? JSONPointer(parsing: text) {
    check(pointer.description == text, "pointer \(text) prints as \(pointer.description)")
  }

  guard let input = try? JSONParser.parse(bytes) else { return }
  let document: JSONValue
  let patchJSON: JSONValue
  if let doc = input["doc"], let patch = input["patch"] {
    (document, patchJSON) = (doc, patch)
  } else if case .array = input, let pod = Fixtures.review.object {
    (document, patchJSON) = (pod, input)
  } else {
    return
  }
  guard let patch = try? JSONPatch(json: patchJSON) else { return }
  check((try? JSONPatch(json: patch.json)) == patch, "the patch does not read back from its JSON")
  check(patch.json.serializedBytes() == patch.serializedBytes(), "the patch's two serializations differ")
  check(
    (try? JSONPatch(json: JSONParser.parse(patch.serializedBytes()))) == patch,
    "the patch does not read back from its text")
  for operation in patch.operations {
    check(
      (try? JSONPointer(parsing: operation.path.description)) == operation.path,
      "path \(operation.path) does not read back")
  }

  var stepwise = document
  var failed = false
  for operation in patch.operations {
    let before = stepwise
    do {
      try JSONPatch.apply(operation, to: &stepwise)
    } catch {
      check(identical(stepwise, before), "a failed \(operation.name) at \(operation.path) changed the document")
      failed = true
      break
    }
    checkEffect(of: operation, before: before, after: stepwise)
  }

  var whole = document
  do {
    try patch.apply(to: &whole)
    check(!failed, "the patch applies as a whole but not one operation at a time")
    check(identical(whole, stepwise), "the patch gives another document as a whole than one operation at a time")
    checkRoundTrips(whole, "the patched document")
  } catch {
    check(failed, "the patch fails as a whole but not one operation at a time")
    check(identical(whole, document), "a failed patch changed the document")
  }
}

/// Checks that an operation that succeeded did what RFC 6902 says.
func checkEffect(of operation: JSONPatchOperation, before: JSONValue, after: JSONValue) {
  let path = operation.path
  let what = "\(operation.name) at \(path)"
  switch operation {
  case .test:
    check(identical(after, before), "\(what) changed the document")
  case .add(_, let value):
    guard let last = path.tokens.last else { return check(identical(after, value), "\(what) did not set the root") }
    let parent = JSONPointer(tokens: Array(path.tokens.dropLast()))
    if case .array(let elements)? = after[pointer: parent] {
      let index = last == "-" ? elements.count - 1 : Int(last) ?? -1
      check(elements.indices.contains(index) && identical(elements[index], value), "\(what) did not insert the value")
      check(
        elements.count == (before[pointer: parent]?.arrayValue?.count ?? -1) + 1,
        "\(what) did not grow the array by one")
    } else {
      check(after[pointer: path].map { identical($0, value) } ?? false, "\(what) did not set the member")
    }
  case .replace(_, let value):
    check(after[pointer: path].map { identical($0, value) } ?? false, "\(what) did not set the value")
  case .remove:
    let parent = JSONPointer(tokens: Array(path.tokens.dropLast()))
    if case .array(let elements)? = after[pointer: parent] {
      check(
        elements.count == (before[pointer: parent]?.arrayValue?.count ?? -1) - 1,
        "\(what) did not shrink the array by one")
    } else {
      check(after[pointer: path] == nil, "\(what) left the member")
    }
  }
}
