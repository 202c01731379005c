/// The release of podinject, as `podinject version` prints it.
public enum PodInjectVersion {
  public static let current = "0.1.0"
}
