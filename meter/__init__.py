"""Simulated smart energy meters: household profiles, a persistent register, MQTT publishing."""
