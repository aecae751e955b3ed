{
  "targets": [
    {
      "target_name": "pier_native",
      "sources": ["native/pier_native.cc"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "defines": ["_GNU_SOURCE"]
    }
  ]
}
