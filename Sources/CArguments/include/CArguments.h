// CArguments has no API of its own: CArguments.c hands the Swift runtime the argument vector that the
// C start-up code passes to every program (see there). The executable links it; nothing imports it.
