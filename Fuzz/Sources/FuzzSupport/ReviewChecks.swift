import PodInject

/// Runs `request` through `Review.run` with `config` and checks what every answer must satisfy: the
/// answer echoes the request and is valid JSON, its patch reads back and turns the pod into exactly
/// the `patchedObject` the pipeline reports, and a second pass (reinvocation) applies no rule again.
///
/// `configFitsJSONText` is false for a configuration holding an object with a repeated key, which only
/// a damaged cache entry can give (`BinaryJSON` accepts it by design): its patch text cannot say what
/// was applied, so it is not compared.
@discardableResult
public func checkReview(
  _ request: AdmissionRequest, config: ConfigLoad, _ what: String, configFitsJSONText: Bool = true
) -> ReviewResult {
  let result = Review.run(request, config: config, environment: Fixtures.environment)
  let response = result.response
  check(response.uid == request.uid, "\(what): the answer's uid is not the request's")
  check(response.allowed == (response.status == nil), "\(what): allowed and a denial status disagree")
  check(response.allowed || response.patch.isEmpty, "\(what): a denial carries a patch")
  check(response.warnings.count == result.failures.count, "\(what): not one warning per failure")
  check(
    request.dryRun ? result.events.isEmpty : result.events.count == result.failures.count,
    "\(what): not one Event per failure (none for a dry run)")

  checkAnswer(response, request: request, exactPatch: configFitsJSONText, what)
  checkPatch(result, what)
  for event in result.events {
    let body = event.body(api: result.eventAPI).serializedBytes()
    check((try? JSONParser.parse(body)) != nil, "\(what): an Event body is not JSON")
  }
  let line = LogLine.review(result, events: EventCounts(), durationMs: 1, time: Fixtures.environment.now)
  check(!line.utf8.contains(0x0A), "\(what): the log line spans lines")
  check((try? JSONParser.parse(line)) != nil, "\(what): the log line is not JSON: \(line)")
  _ = ExplainReport.render(result, title: "fuzz", config: config)
  checkReinvocation(result, config: config, what)
  return result
}

/// The AdmissionReview written to stdout parses, echoes the apiVersion and uid, and carries the patch.
private func checkAnswer(
  _ response: AdmissionResponse, request: AdmissionRequest, exactPatch: Bool, _ what: String
) {
  let text = response.review(apiVersion: request.reviewAPIVersion).serializedBytes()
  guard let review = try? JSONParser.parse(text) else { fatal("invariant failed: \(what): the answer is not JSON") }
  check(review["apiVersion"]?.stringValue == request.reviewAPIVersion, "\(what): the answer's apiVersion")
  check(review["response"]?["uid"]?.stringValue == request.uid, "\(what): the answer's uid")
  guard let encoded = review["response"]?["patch"]?.stringValue else {
    check(response.patch.isEmpty || !response.allowed, "\(what): the answer lost its patch")
    return
  }
  guard let bytes = Base64.decode(encoded), let json = try? JSONParser.parse(bytes),
    let patch = try? JSONPatch(json: json)
  else { fatal("invariant failed: \(what): the answer's patch does not read back") }
  check(!exactPatch || patch == response.patch, "\(what): the answer's patch reads back different")
}

/// Applying the patch to the pod as sent gives exactly the pod the pipeline reports.
private func checkPatch(_ result: ReviewResult, _ what: String) {
  guard result.response.allowed, var pod = result.request.object else { return }
  do {
    try result.response.patch.apply(to: &pod)
  } catch {
    fatal("invariant failed: \(what): the patch does not apply to the pod it was made for: \(error.message)")
  }
  check(
    result.patchedObject.map { identical($0, pod) } ?? false, "\(what): the patched pod is not what the patch makes")
}

/// Admitting the patched pod again (the API server's reinvocation) applies none of the rules already applied.
private func checkReinvocation(_ result: ReviewResult, config: ConfigLoad, _ what: String) {
  // Without the status annotation (the pod's annotations are not a map, which the API server's own
  // decoding rules out) a second pass cannot know; that failure is reported as rule "*".
  guard result.response.allowed, !result.applied.isEmpty, !result.failures.contains(where: { $0.rule == "*" })
  else { return }
  var again = result.request
  again.object = result.patchedObject
  let second = Review.run(again, config: config, environment: Fixtures.environment)
  let repeated = second.applied.filter(result.applied.contains)
  check(repeated.isEmpty, "\(what): reinvocation applies \(repeated) again")
}
