// libyaml's event parser, the only YAML code podinject uses (see YAML/YAMLParser.swift).
#include <yaml.h>
