// linkring-proxy: the client-facing front of a LinkRing cluster. See ProxyProcess.swift.
import LinkRingUV

ProxyProcess.run(Array(CommandLine.arguments.dropFirst()))
