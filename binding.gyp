{
  "targets": [
    {
      "target_name": "pier_native",
      "sources": [
        "native/pier_native.cc",
        "native/netlink.cc"
      ],
      "cflags_cc": [
        "-std=c++17",
        "-Wall",
        "-Wextra",
        "-Wno-unused-parameter",
        "-Wno-missing-field-initializers"
      ],
      "defines": [
        "_GNU_SOURCE"
      ]
    },
    {
      "target_name": "pier-exec",
      "type": "none",
      "actions": [
        {
          "action_name": "build_pier_exec",
          "inputs": [
            "native/pier_exec.c",
            "native/pier_runtime.c",
            "scripts/build-static.sh"
          ],
          "outputs": [
            "<(PRODUCT_DIR)/pier-exec"
          ],
          "action": [
            "sh",
            "scripts/build-static.sh",
            "native/pier_exec.c",
            "<(PRODUCT_DIR)/pier-exec"
          ]
        }
      ]
    },
    {
      "target_name": "pier-monitor",
      "type": "none",
      "actions": [
        {
          "action_name": "build_pier_monitor",
          "inputs": [
            "native/pier_monitor.c",
            "scripts/build-static.sh"
          ],
          "outputs": [
            "<(PRODUCT_DIR)/pier-monitor"
          ],
          "action": [
            "sh",
            "scripts/build-static.sh",
            "native/pier_monitor.c",
            "<(PRODUCT_DIR)/pier-monitor"
          ]
        }
      ]
    }
  ]
}
