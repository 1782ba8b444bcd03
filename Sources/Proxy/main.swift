// linkring-proxy: the client-facing front of a LinkRing cluster (issue 3 builds it out).
import LinkRingUV

Output.printError("linkring-proxy: not built yet; run linkring-node for a single-node shortener")
ProcessSetup.exit(2)
