# radiant_compile_shaders(OUT_DIR OUTPUTS_VAR "SHADERS" [glslc flags...]): each GLSL compute
# shader -> OUT_DIR/NAME.inc, its SPIR-V as comma-separated words (glslc -mfmt=num) that
# C files include into a uint32_t array. OUTPUTS_VAR receives the .inc paths.
function(radiant_compile_shaders out_dir outputs_var shaders)
  file(MAKE_DIRECTORY ${out_dir})
  set(outputs)
  foreach(shader ${shaders})
    get_filename_component(shader_name ${shader} NAME)
    set(out ${out_dir}/${shader_name}.inc)
    add_custom_command(OUTPUT ${out}
      COMMAND ${GLSLC} --target-env=vulkan1.2 -O -mfmt=num ${ARGN} -MD -MF ${out}.d ${shader} -o ${out}
      DEPENDS ${shader} DEPFILE ${out}.d COMMENT "glslc ${shader_name}" VERBATIM)
    list(APPEND outputs ${out})
  endforeach()
  set(${outputs_var} ${outputs} PARENT_SCOPE)
endfunction()
