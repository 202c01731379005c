/// The exit statuses of every command (SPEC §1).
public enum ExitStatus {
  public static let success: Int32 = 0
  /// A usage or configuration error in an offline command (or an outbox that is refused).
  public static let configuration: Int32 = 1
  /// Unusable input: nothing to answer.
  public static let badInput: Int32 = 2
  /// `events flush`: some Events could not be delivered yet and remain in the outbox.
  public static let eventsStillWaiting: Int32 = 3
}
