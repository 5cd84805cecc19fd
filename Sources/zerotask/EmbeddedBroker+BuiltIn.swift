import ZeroTaskBroker
import ZeroTaskNode

/// The broker module's embedded broker is what `zerotask node --broker builtin` gives the node:
/// the executable wires the two layers up, and neither module knows the other.
extension EmbeddedBroker: BuiltInBroker {}
