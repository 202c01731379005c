import FuzzSupport
import PodInject

// An admission request body, as stdin or the CGI front reads it: the JSON parser (its value must
// survive being written and read again), AdmissionReview decoding (JSON, or YAML), then the whole
// pipeline with each fixed configuration, checked by `checkReview`.
runFuzzer { bytes in
  if let value = try? JSONParser.parse(bytes) {
    checkRoundTrips(value, "the parsed input")
  }
  guard let request = try? AdmissionRequest.decode(bytes) else { return }
  for config in Fixtures.configs {
    checkReview(request, config: config.load, config.name)
  }
}
