"""Reading librdkafka properties files (no broker needed)."""

from __future__ import annotations

import pytest

from cep.connectors.kafka import KafkaConnectorError, load_kafka_config


def test_properties_are_read_with_comments_and_blanks(tmp_path):
    path = tmp_path / "client.properties"
    path.write_text(
        "# SASL over TLS\n"
        "security.protocol = SASL_SSL\n"
        "\n"
        "! a Java-style comment\n"
        "sasl.mechanism=PLAIN\n"
        "sasl.password=a=b#c\n"
    )
    assert load_kafka_config(path) == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
        "sasl.password": "a=b#c",  # only the first = splits; # inside a value is kept
    }


def test_a_line_without_equals_names_its_place(tmp_path):
    path = tmp_path / "client.properties"
    path.write_text("acks=all\nlinger.ms 5\n")
    with pytest.raises(KafkaConnectorError, match=r"client.properties:2: expected key=value"):
        load_kafka_config(path)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(KafkaConnectorError, match="cannot read Kafka config"):
        load_kafka_config(tmp_path / "nope.properties")
